"""`make loadtest`: a mixed load with locust against gunicorn on PostgreSQL, with a
Celery worker on Redis, compared with a bare Django view under the same load shape.
See loadtest/__main__.py."""
