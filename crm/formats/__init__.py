"""Format modules that FORMAT_MODULE_PATH puts before Django's own (see crm/formats/en)."""
