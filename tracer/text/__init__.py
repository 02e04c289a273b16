"""Every sentence a learner reads about events: one-line descriptions, the narration, JSON."""
