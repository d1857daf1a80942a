"""The app's pages, one a file: model, data, train (with its settings and runs), evaluate, inference."""
