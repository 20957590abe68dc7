"""Typed builders the Runner calls: each turns a config (or a built object) into one part."""
