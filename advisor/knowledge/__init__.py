"""Knowledge: the corpus, embeddings, index generations (local or on a server), ingest."""
