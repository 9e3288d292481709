"""The core: orders, fleet and policy become per-tier problems, solved and checked."""
