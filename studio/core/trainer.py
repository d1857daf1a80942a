"""StudioTrainer: the HF Trainer with seeded length-grouped batches and length-sorted evaluation."""

from __future__ import annotations

import torch
from torch.utils.data import Sampler
from transformers import Trainer
from transformers.trainer_pt_utils import get_length_grouped_indices


class SeededLengthGroupedSampler(Sampler):
    """Batches of similar length, in an order fixed by (seed, epoch).

    The Trainer's own length-grouped sampler draws from the global RNG, so a run resumed in its second epoch
    would see other batches than an uninterrupted one; here the order depends on the seed and the epoch only.
    Batches are also shuffled, so that a run does not walk each mega-batch from long texts to short.
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int):
        self.lengths = lengths
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 1000 + self.epoch)
        # HF's default mega-batch (n // 4 batches, at most 50) groups nothing below 256 rows; two mega-batches
        # still leave each epoch its own batches, and the batch order is shuffled below.
        mega = min(50, max(1, len(self.lengths) // (self.batch_size * 2)))
        indices = get_length_grouped_indices(self.lengths, self.batch_size, mega_batch_mult=mega, generator=generator)
        batches = [indices[i : i + self.batch_size] for i in range(0, len(indices), self.batch_size)]
        # The longest batch stays first (an out-of-memory error shows at once); the rest are shuffled.
        rest = [batches[i] for i in (torch.randperm(len(batches) - 1, generator=generator) + 1).tolist()]
        for batch in [batches[0], *rest]:
            yield from batch


class _SortedSampler(Sampler):
    """Evaluation order by length: little padding, and no draw from the RNG that training uses."""

    def __init__(self, lengths: list[int]):
        self.order = sorted(range(len(lengths)), key=lengths.__getitem__)

    def __len__(self) -> int:
        return len(self.order)

    def __iter__(self):
        return iter(self.order)


def _lengths(dataset) -> list[int]:
    return [len(ids) for ids in dataset["input_ids"]]


class StudioTrainer(Trainer):
    """Trainer whose batch order is reproducible across stop and resume."""

    def _get_train_sampler(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if "input_ids" not in getattr(dataset, "column_names", ()):
            return super()._get_train_sampler(train_dataset)
        batch = self.args.train_batch_size * self.args.gradient_accumulation_steps
        return SeededLengthGroupedSampler(_lengths(dataset), batch, self.args.seed)

    def _get_eval_sampler(self, eval_dataset):
        if self.args.world_size > 1 or "input_ids" not in getattr(eval_dataset, "column_names", ()):
            return super()._get_eval_sampler(eval_dataset)
        return _SortedSampler(_lengths(eval_dataset))
