"""Small PyTorch models (plain ``torch.nn``, no downloads) for front-end tests."""
