"""The HTTP edge shared by every area: input rules, error answers, security headers, URL converters, LAN addresses."""
