"""WiseScalp: the runner that turns market data into orders, every one of them checked by the gate.

``runner.feeds`` (synthetic / replay / binance) → ``runner.market`` (decode, book sync, L2 book,
features) → ``runner.strategy`` (score, calibration, ENR gate, ParentGate) → ``runner.gate_client``
(``/pretrade/check``, fail closed) → ``runner.venues`` (shadow, paper, ccxt testnet/live); the run loop
is ``runner.app.Runner``. Nothing here imports typer or rich: ``auroractl`` is the face.
"""
