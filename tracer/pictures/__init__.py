"""Pictures of a run to export: the sequence diagram as Mermaid or SVG, the process tree as text."""
