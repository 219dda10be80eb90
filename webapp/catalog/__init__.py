"""The organization's catalog: waste materials, processing modules and recipes."""
