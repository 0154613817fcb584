// Plotly defaults for every plot of both pages (/ and /analysis): nothing in a plot may reach
// outside this lab. plotly.js 4 shows a "Share chart…" mode-bar button by default that uploads the
// chart to Plotly's cloud, and a logo linking to plotly.com; both go, and the upload URL is emptied
// so no later button could use it.

export const OFFLINE_CONFIG = {
  showSendToCloud: false,
  displaylogo: false,
  plotlyServerURL: '',
};

window.Plotly.setPlotConfig(OFFLINE_CONFIG);
