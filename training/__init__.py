"""Training side: train, fine-tune, evaluate and explain sentence embedders (imports nothing heavy).

- `training.train.train`, `training.finetune.finetune`: runs configured by `training.config` dataclasses.
- `training.evaluate`: accuracy, macro-F1, confusion matrix; Spearman/Pearson of cosine similarity.
- `training.explain`: attention as HTML and PNG heatmaps, in-process or through a server.
- `embedder.cli.train`: the `embedder train|finetune|evaluate|explain` subcommands.
"""
