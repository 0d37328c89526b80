"""Who may do what: the owner's login, sessions, CSRF and API tokens; guests' read-only links."""
