"""One-click: preflight, supervision of the gate and runner subprocesses, a dashboard model, the proof.

Kept free of typer/rich: ``auroractl one-click`` renders what these modules compute.
"""
