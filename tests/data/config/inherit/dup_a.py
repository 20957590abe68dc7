default_scope = "mmdet"
a = 1
