"""The ``meshspec`` command line: parsing and dispatch only; the work lives in infra's modules."""
