default_scope = "mmseg"
c = 3
