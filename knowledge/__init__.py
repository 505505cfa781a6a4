"""Policy text -> clauses -> embeddings -> FAISS index -> cited search."""
