"""The synthetic AlignX world: users, posts, a compositional response realizer, choices, chunked generation."""
