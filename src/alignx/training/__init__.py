"""DPO training on DeepSpeed: batches, loss, loop, checkpoints, launcher, gated export."""
