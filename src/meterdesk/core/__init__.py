"""The core every channel calls (the web portal, the API, and the e-mail, phone, terminal and back
office channels to come): operations that take more than one app, built on them and imported by
none of them (docs/architecture.md, "Dependencies")."""
