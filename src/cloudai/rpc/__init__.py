"""gRPC plumbing shared by master and worker: conversion, error mapping, channels."""
