"""The WSGI entry point: `gunicorn wsgi:app`, and `flask` finds the app here too."""

from dotenv import load_dotenv

from storefront import create_app

load_dotenv()
app = create_app()
