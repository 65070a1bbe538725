import numpy as np

from training.batching import _local_slices, plan_epoch, steps


def test_each_epoch_covers_every_example_once_in_a_seeded_order():
    lengths = np.random.default_rng(0).integers(1, 50, size=203)
    plan = plan_epoch(lengths, 16, seed=7, epoch=2)
    assert sorted(np.concatenate(plan).tolist()) == list(range(203))
    assert len(plan) == steps(203, 16) and all(len(b) == 16 for b in plan[:-1])
    again = plan_epoch(lengths, 16, seed=7, epoch=2)
    assert all(np.array_equal(a, b) for a, b in zip(plan, again))
    other = plan_epoch(lengths, 16, seed=7, epoch=3)
    assert not all(np.array_equal(a, b) for a, b in zip(plan, other))


def test_buckets_pad_less_than_random_batches():
    lengths = np.random.default_rng(1).integers(1, 100, size=2000)

    def padding(plan):
        return sum(len(b) * lengths[b].max() - lengths[b].sum() for b in plan)

    random_plan = np.array_split(np.random.default_rng(2).permutation(2000), steps(2000, 32))
    assert padding(plan_epoch(lengths, 32, seed=0, epoch=0)) < 0.5 * padding(random_plan)


def test_evaluation_order_and_drop_remainder():
    lengths = np.ones(10, int)
    assert [b.tolist() for b in plan_epoch(lengths, 4, 0, 0, shuffle=False)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(plan_epoch(lengths, 4, 0, 0, drop_remainder=True)) == 2


def test_replica_slices_partition_each_global_batch():
    batches = [np.arange(8), np.arange(8, 16)]
    one_worker = _local_slices(batches, replicas=2, pipelines=1, pipeline_id=0)
    assert [s.tolist() for s in one_worker] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [12, 13, 14, 15]]
    second_worker = _local_slices(batches, replicas=2, pipelines=2, pipeline_id=1)
    assert [s.tolist() for s in second_worker] == [[4, 5, 6, 7], [12, 13, 14, 15]]
