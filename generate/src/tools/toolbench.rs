//! ToolBench tool source (stub until implemented).
