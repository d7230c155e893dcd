"""Evaluation of the aligners: the paper's alignment accuracy, its baselines and experiments, and a report.

    metrics     the arithmetic: implicit rewards, accuracies, baselines, gains, controllability rates
    scoring     log-probs of formatted examples and of the variant inputs evaluation builds
    experiments the paper's measurements on one aligner (test per persona type, novel, benchmarks, golden
                profile, robustness to history size, controllability)
    report      metrics JSON, plot data, PNG figures and the Markdown report
    champion    the MLflow alias `champion`
"""
