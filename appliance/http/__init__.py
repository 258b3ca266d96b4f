"""HTTP plumbing shared by every resource: errors, bodies, middleware, pagination."""
