"""From peak tables to a leak-free, split, labelled data set of windows."""
