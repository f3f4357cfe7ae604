"""Figures that read results (never compute estimates). Each module draws one kind of figure and
returns a matplotlib Figure; matplotlib is imported only when a figure is drawn."""
