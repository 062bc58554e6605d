"""Placeholder: being written."""


def contact_import(request):
    raise NotImplementedError


def contact_export(request):
    raise NotImplementedError
