"""The yardstick: a bare Flask hello world, served by gunicorn with the repo's gunicorn.conf.py.

    gunicorn tools.bench.hello:app -c gunicorn.conf.py
"""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    """Hello, World."""
    return "Hello, World!"
