from .base import *  # noqa: F403

DEBUG = env_bool("DEBUG", True)
# A person reads the demo's terminal: plain lines unless LOG_FORMAT=json.
LOG_FORMAT = env("LOG_FORMAT", "plain")
LOGGING["handlers"]["console"]["formatter"] = (
    "json" if LOG_FORMAT == "json" else "plain"
)
