"""The direction annotator: a history item's 90-value preference direction predicted from its raw text.

    items = history_items(records)                  # one row per UGC / PAIR item (features.py)
    annotator = fit(train_items, val_items, cfg)    # bag of word uni+bigrams -> per-dimension 3-way heads (training.py)
    annotator.save(folder); Annotator.load(folder)  # safetensors weights + JSON config, never a pickle (model.py)
    records = fill_directions(records, annotator, "missing")   # profiles for unlabelled users (apply.py)
"""
