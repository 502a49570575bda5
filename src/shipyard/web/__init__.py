"""What the dashboard pages of both servers share: sessions, CSRF, headers, layout, look."""
