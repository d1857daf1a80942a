"""Fine-Tuning Studio: fine-tune a pretrained transformer on your own CSV data."""

__version__ = "0.1.0"
APP_NAME = "Fine-Tuning Studio"
