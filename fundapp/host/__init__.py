"""The host union's pages (``/host/``): the funds of the installation, opening one, and the payments that named
no fund. Only operators (``User.is_operator``) see them."""
