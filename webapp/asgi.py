"""ASGI entry point for uvicorn: `uvicorn webapp.asgi:app`."""
from webapp import create_app

app = create_app()
