"""benrl: reinforcement learning towards broadly and persistently beneficial models, reproduced in the open."""

__version__ = "0.1.0"
