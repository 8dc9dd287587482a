"""The hub's pages for people: server-rendered Dutch HTML (Jinja2) that works without JavaScript.

`templates.render` renders a page of `templates/` (each extends `base.html`); `static` serves the one
stylesheet; `signin` holds `/login` and `/logout`. Each page module offers `routes(...)`, which server.py
wires.
"""
