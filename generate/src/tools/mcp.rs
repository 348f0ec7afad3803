//! MCP tool source (stub until implemented).
