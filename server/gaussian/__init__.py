"""The paper's Gaussian-mixture family: datasets, exact mixture maths and labels, the residual MLP, recipes."""
