//! Python's `socketserver` (`SocketServer` in Python 2).
#![deny(missing_docs)]
