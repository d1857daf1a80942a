"""Data files of the app: icons, the sample dataset, style sheets."""
