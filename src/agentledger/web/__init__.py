"""What the HTTP faces (the REST API and the console) share: who is calling, and what
their role lets them do. Neither face imports the other; both import this."""
