"""Stage 3: training one (model, N, draw, defence) run. `training_loop.py` is the loop
(seeded per epoch, resumable from a checkpoint after every epoch); `defences/` holds one
module per defence (each registers itself in `DEFENCES`), which turns a batch into a loss;
`batch_augmentation.py` augments uint8 batches on the training device; `data_parallel.py`
launches a job's K DistributedDataParallel processes and holds what the loop asks of them; and
`adversarial_detector.py` is tan2022's detector network that the `detector_head` defence
trains beside the model."""
