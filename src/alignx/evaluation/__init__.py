"""Evaluation of the aligners: the paper's alignment accuracy, its baselines and experiments, and a report.

    metrics     the arithmetic: implicit rewards, accuracies, baselines, gains, controllability rates
    intervals   cluster-bootstrap intervals (by user) of every figure, paired intervals and p-values of gains
    reference_variant  PBA against the reference on the ICA prompt (the paper's script; parity only)
    scoring     log-probs of formatted examples and of the variant inputs evaluation builds
    readers     reference readers (tone, profile readers, marker overlap) scored on the same pairs
    experiments the paper's measurements on one aligner (test per persona type, novel, benchmarks, oracle
                profile, robustness to history size, controllability and its placebo, readers, evidence split)
    report      metrics JSON, plot data, PNG figures and the Markdown report
    champion    the MLflow alias `champion`
"""
