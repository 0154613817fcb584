"""``modelab``: the command line (``main``), its analysis commands and the options they share."""
