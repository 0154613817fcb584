// Starts Swagger UI on /docs (a file, not an inline script: the lab's Content-Security-Policy allows none).
// validatorUrl null: Swagger UI would otherwise load a badge from validator.swagger.io.
window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
