/** The dashboard's static files (web/): the public face of src/web. */
export { createDashboardRoutes, dashboardRoutes, type DashboardRoutes, type DashboardRoutesOptions } from './dashboard-routes.js';
