/** Node-only helpers (file access); the main entry stays browser-safe for the JupyterLab extension. */
export {};
