"""The student model lives in `embedder.student` (the shipped pretrained models are students too); re-exported here."""

from embedder.student import TEACHER_PROJECTION, build_student, student_model

__all__ = ["TEACHER_PROJECTION", "build_student", "student_model"]
